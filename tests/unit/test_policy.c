/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy document: every good policy in the corpus loads and compiles to what it says;
 * every bad one is refused with an error at the exact JSON path a person must fix, and a
 * message that says what was expected. Hostile documents are refused, never crash or hang.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"
#include "policy/policy.h"
#include "tests/unit/support.h"

static const struct policy_env test_env = {
    .vars = {.home = "/home/tester",
             .cwd = "/work/proj",
             .workspace = "/work/proj/ws",
             .tmp = "/tmp"},
    .resolve_symlinks = 0,
};

/* Entries of the host secret set (policy_host_paths) in test_env, which sets no state_home. */
static size_t host_paths(void)
{
    size_t n = 0;
    for (; policy_host_paths[n]; n++)
        ;
    return n;
}

/* A policy with the two required keys and body. */
#define P(body) "{\"cordon_policy\": 1, \"agent\": \"a\", " body "}"

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

/* Every error message the test may see, joined, for failure output. */
static const char *all_errors(void)
{
    static char buf[8192];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d.count && o < sizeof buf - 1; i++) {
        char line[512];
        diag_format(&d, i, line, sizeof line);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "  %s\n", line);
    }
    return buf;
}

/* Assert that json is refused with an error at exactly path whose message contains msg. */
static void expect_error(const char *json, const char *path, const char *msg)
{
    struct policy *p = load(json);
    cr_assert_null(p, "policy was accepted, expected an error at %s", path);
    for (size_t i = 0; i < d.count; i++)
        if (strcmp(d.e[i].path, path) == 0 && strstr(d.e[i].msg, msg))
            return;
    cr_assert_fail("no error at path '%s' containing '%s'; got:\n%s", path, msg, all_errors());
}

/* ------------------------------------------------------------------ good corpus */

static void load_file_ok(const char *path)
{
    size_t len;
    char *buf = read_file(path, &len);
    struct policy *p = NULL;
    diag_init(&d);
    int rc = policy_load(buf, len, &test_env, &p, &d);
    cr_assert_eq(rc, 0, "%s was refused:\n%s", path, all_errors());
    cr_assert_not_null(p);
    cr_assert_not_null(p->agent);
    policy_free(p);
    free(buf);
}

static int corpus_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    cr_assert_not_null(dh, "cannot open %s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        load_file_ok(path);
        n++;
    }
    closedir(dh);
    return n;
}

Test(good, corpus_and_examples_load)
{
    int n = corpus_dir(CORDON_TEST_DATA "/policies/good");
    n += corpus_dir(CORDON_SOURCE_DIR "/examples/policies");
    cr_assert_geq(n, 8, "the corpus shrank to %d files", n);
}

Test(good, minimal_gets_documented_defaults)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->mode, POLICY_MODE_ENFORCE);
    cr_assert_eq(p->poll_seconds, 60);
    cr_assert_eq(p->sandbox.enforcement, POLICY_STRICT);
    cr_assert_eq(p->sandbox.net.mode, POLICY_NET_PROXY);
    cr_assert_eq(p->sandbox.net.n_allow, 0);
    cr_assert_eq(p->sandbox.ipc.signals, POLICY_SCOPE_SCOPED);
    cr_assert_eq(p->sandbox.ipc.abstract_unix, POLICY_SCOPE_SCOPED);
    cr_assert_eq(p->sandbox.ipc.sysv, POLICY_SYSV_DENY, "SysV IPC is refused by default");
    cr_assert(!p->sandbox.limits.processes && !p->sandbox.limits.memory &&
                  !p->sandbox.limits.cpu_seconds && !p->sandbox.limits.open_files,
              "no limit by default");
    /* read_write ${workspace} ${tmp}; read_only ${cwd} */
    cr_assert_eq(p->sandbox.fs.read_write.n, 2);
    cr_assert_str_eq(p->sandbox.fs.read_write.v[0].path, "/work/proj/ws");
    cr_assert_eq(p->sandbox.fs.read_write.v[0].origin, POLICY_ORIGIN_DEFAULT);
    cr_assert_str_eq(p->sandbox.fs.read_write.v[1].path, "/tmp");
    cr_assert_eq(p->sandbox.fs.read_only.n, 1);
    cr_assert_str_eq(p->sandbox.fs.read_only.v[0].path, "/work/proj");
    /* exec: everything in the default search path */
    cr_assert_eq(p->sandbox.exec.allow_names.n, 1);
    cr_assert_str_eq(p->sandbox.exec.allow_names.v[0], "*");
    cr_assert_eq(p->sandbox.exec.deny_names.n, 0);
    cr_assert_eq(p->sandbox.exec.search.n, 6);
    /* api allowlists are empty: nothing is allowed until the policy says so */
    cr_assert_eq(p->api.models.n, 0);
    cr_assert_eq(p->api.tools_allow.n, 0);
    cr_assert(p->api.session_usd < 0 && p->api.day_usd < 0);
    cr_assert_eq(p->api.has_anomaly, 0);
    cr_assert_eq(p->api.record_prompts, POLICY_RECORD_DIGEST);
    policy_free(p);
}

Test(good, credential_set_is_on_by_default_and_expanded)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\"}");
    cr_assert_not_null(p);
    size_t n = 0;
    for (; policy_credential_paths[n]; n++)
        ;
    cr_assert_eq(n, 70);
    cr_assert_eq(p->sandbox.fs.deny.n, n + host_paths());
    const char *want[] = {"/home/tester/.ssh",           "/home/tester/.aws",
                          "/home/tester/.config/gcloud", "/home/tester/.git-credentials",
                          "/home/tester/.config/gh",     "/home/tester/.pgpass",
                          "/home/tester/.bash_history",  "/home/tester/.cargo/credentials.toml",
                          "/home/tester/.mozilla",       "/home/tester/.local/share/keyrings"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int found = 0;
        for (size_t i = 0; i < p->sandbox.fs.deny.n; i++)
            if (strcmp(p->sandbox.fs.deny.v[i].path, want[w]) == 0) {
                found = 1;
                cr_assert_eq(p->sandbox.fs.deny.v[i].origin, POLICY_ORIGIN_CREDENTIALS);
            }
        cr_assert(found, "%s missing from the credential deny set", want[w]);
    }
    policy_free(p);
}

Test(good, credential_set_can_be_switched_off_explicitly)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": "
                            "{\"filesystem\": {\"deny_credentials\": false, \"deny\": "
                            "[\"~/.ssh\"]}}}");
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.fs.deny_credentials, 0);
    /* the credential set is off; the host secret set is not, and cannot be */
    cr_assert_eq(p->sandbox.fs.deny.n, 1 + host_paths());
    cr_assert_str_eq(p->sandbox.fs.deny.v[0].path, "/home/tester/.ssh");
    cr_assert_eq(p->sandbox.fs.deny.v[0].origin, POLICY_ORIGIN_POLICY);
    for (size_t i = 1; i < p->sandbox.fs.deny.n; i++)
        cr_assert_eq(p->sandbox.fs.deny.v[i].origin, POLICY_ORIGIN_HOST);
    policy_free(p);
}

Test(good, user_deny_is_merged_with_credentials_without_duplicates)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": "
                            "{\"filesystem\": {\"deny\": [\"~/.ssh\", \"/srv/secret\"]}}}");
    cr_assert_not_null(p, "%s", all_errors());
    /* 70 credentials + /srv/secret, ~/.ssh once, and the host secret set */
    cr_assert_eq(p->sandbox.fs.deny.n, 71 + host_paths());
    cr_assert_eq(p->sandbox.fs.deny.v[0].origin, POLICY_ORIGIN_POLICY);
    policy_free(p);
}

Test(good, everything_compiles_to_what_it_says)
{
    size_t len;
    char *buf = read_file(CORDON_TEST_DATA "/policies/good/everything.json", &len);
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_eq(policy_load(buf, len, &test_env, &p, &d), 0, "%s", all_errors());
    cr_assert_str_eq(p->agent, "every-key_1.0");
    cr_assert_eq(p->mode, POLICY_MODE_OBSERVE);
    cr_assert_eq(p->poll_seconds, 5);
    cr_assert_eq(p->sandbox.enforcement, POLICY_BEST_EFFORT);
    cr_assert_eq(p->sandbox.fs.deny_credentials, 0);
    cr_assert_eq(p->sandbox.fs.deny.n, 2 + host_paths());
    cr_assert_str_eq(p->sandbox.fs.deny.v[0].path, "/work/proj/ws/.env");
    cr_assert_str_eq(p->sandbox.fs.read_only.v[0].path, "/home/tester/notes");
    cr_assert_str_eq(p->sandbox.fs.read_only.v[0].raw, "~/notes");
    /* exec names and paths are told apart */
    cr_assert_eq(p->sandbox.exec.allow_names.n, 2);
    cr_assert_str_eq(p->sandbox.exec.allow_names.v[0], "python3*");
    cr_assert_eq(p->sandbox.exec.allow_paths.n, 2);
    cr_assert_str_eq(p->sandbox.exec.allow_paths.v[0].path, "/work/proj/ws/bin");
    cr_assert_eq(p->sandbox.exec.deny_paths.n, 1);
    cr_assert_str_eq(p->sandbox.exec.deny_paths.v[0].path, "/usr/bin/sudo");
    cr_assert_eq(p->sandbox.exec.search.n, 2);
    /* network endpoints */
    cr_assert_eq(p->sandbox.net.mode, POLICY_NET_HOST);
    cr_assert_eq(p->sandbox.net.n_allow, 3);
    cr_assert_str_eq(p->sandbox.net.allow[0].host, "::1");
    cr_assert_eq(p->sandbox.net.allow[0].port, 8080);
    cr_assert_eq(p->sandbox.net.allow[1].port, 0);
    cr_assert_eq(p->sandbox.ipc.signals, POLICY_SCOPE_OPEN);
    cr_assert_eq(p->sandbox.ipc.sysv, POLICY_SYSV_PRIVATE);
    cr_assert_eq(p->sandbox.limits.processes, 64);
    cr_assert_eq(p->sandbox.limits.memory, 2ULL << 30);
    cr_assert_eq(p->sandbox.limits.cpu_seconds, 600);
    cr_assert_eq(p->sandbox.limits.open_files, 4096);
    /* api */
    cr_assert_eq(p->api.models.n, 3);
    cr_assert_eq(p->api.n_custom, 2);
    cr_assert_str_eq(p->api.custom[0].cls, "claim_id");
    cr_assert_eq(p->api.custom[1].request, POLICY_ACTION_BLOCK);
    cr_assert_eq(p->api.custom[1].response, POLICY_ACTION_BLOCK);
    cr_assert_eq(p->api.data.n, 5); /* pii.* secret.* health financial claim_id */
    cr_assert_eq(p->api.n_constraints, 3);
    cr_assert_eq(p->api.session_usd, 0.5);
    cr_assert_eq(p->api.day_usd, 10);
    cr_assert_eq(p->api.n_prices, 2);
    cr_assert_eq(p->api.prices[1].output_per_mtok, 15);
    cr_assert_eq(p->api.n_schedule, 3);
    cr_assert_eq(p->api.schedule[0].outside, 1);
    cr_assert_eq(p->api.schedule[0].days, 0x1f);
    cr_assert_eq(p->api.schedule[0].start_min, 8 * 60);
    cr_assert_eq(p->api.schedule[0].end_min, 18 * 60);
    cr_assert_str_eq(p->api.schedule[0].tz, "Europe/Brussels");
    cr_assert_eq(p->api.schedule[1].days, 0x60);
    cr_assert_eq(p->api.schedule[1].end_min, 24 * 60);
    cr_assert_eq(p->api.schedule[1].block, 1);
    cr_assert_str_eq(p->api.schedule[1].tz, "UTC");
    cr_assert_eq(p->api.schedule[2].days, 0x7f);
    cr_assert_eq(p->api.schedule[2].start_min, 22 * 60);
    cr_assert_eq(p->api.schedule[2].end_min, 6 * 60);
    cr_assert_eq(p->api.schedule[2].has_models, 1);
    cr_assert_eq(p->api.requests_per_minute, 30);
    cr_assert_eq(p->api.on_trigger, POLICY_TRIGGER_THROTTLE);
    cr_assert_eq(p->api.record_prompts, POLICY_RECORD_TEXT);
    policy_free(p);
    free(buf);
}

Test(good, stamp_of_a_signed_payload_is_read)
{
    size_t len;
    char *buf = read_file(CORDON_TEST_DATA "/policies/good/signed-payload.json", &len);
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_eq(policy_load(buf, len, &test_env, &p, &d), 0, "%s", all_errors());
    cr_assert_eq(p->version, 42);
    cr_assert_str_eq(p->issued_at, "2026-11-28T10:00:00Z");
    cr_assert_str_eq(p->expires_at, "2026-12-05T10:00:00Z");
    policy_free(p);
    free(buf);
}

Test(good, digest_is_sha256_of_the_bytes)
{
    const char *a = "{\"cordon_policy\": 1, \"agent\": \"a\"}";
    const char *b = "{\"cordon_policy\": 1,  \"agent\": \"a\"}";
    struct policy *pa = load(a), *pb = load(b);
    cr_assert(pa && pb);
    cr_assert_neq(memcmp(pa->digest, pb->digest, 32), 0);
    struct policy *pa2 = load(a);
    cr_assert_eq(memcmp(pa->digest, pa2->digest, 32), 0);
    policy_free(pa);
    policy_free(pb);
    policy_free(pa2);
}

Test(good, variables_that_coincide_are_not_a_conflict)
{
    /* cwd == workspace: read_only ${cwd} and read_write ${workspace} name one directory */
    struct policy_env env = test_env;
    env.vars.workspace = "/work/proj";
    struct policy *p = NULL;
    const char *j = "{\"cordon_policy\": 1, \"agent\": \"a\"}";
    diag_init(&d);
    cr_assert_eq(policy_load(j, strlen(j), &env, &p, &d), 0, "%s", all_errors());
    policy_free(p);
}

Test(good, deny_beneath_a_grant_is_accepted)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": "
                            "{\"filesystem\": {\"read_only\": [\"~\"], \"deny\": "
                            "[\"~/private\"]}}}");
    cr_assert_not_null(p, "%s", all_errors());
    policy_free(p);
}

Test(good, hosts_are_lowercased_and_wildcards_marked)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": "
                            "{\"network\": {\"allow\": [\"API.Example.COM:443\", "
                            "\"*.Git.Example.com:22\"]}}}");
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_str_eq(p->sandbox.net.allow[0].host, "api.example.com");
    cr_assert_eq(p->sandbox.net.allow[0].wildcard, 0);
    cr_assert_str_eq(p->sandbox.net.allow[1].host, "*.git.example.com");
    cr_assert_eq(p->sandbox.net.allow[1].wildcard, 1);
    cr_assert_eq(p->sandbox.net.allow[1].port, 22);
    policy_free(p);
}

Test(good, variables_that_coincide_in_one_list_are_folded)
{
    /* run from /tmp: ${tmp} and ${workspace} are one directory; the policy is still fine */
    struct policy_env env = test_env;
    env.vars.workspace = "/tmp";
    env.vars.cwd = "/tmp";
    struct policy *p = NULL;
    const char *j = "{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {\"filesystem\": "
                    "{\"read_write\": [\"${workspace}\", \"${tmp}\"], \"read_only\": "
                    "[\"${cwd}\", \"${workspace}\"]}}}";
    diag_init(&d);
    cr_assert_eq(policy_load(j, strlen(j), &env, &p, &d), 0, "%s", all_errors());
    cr_assert_eq(p->sandbox.fs.read_write.n, 1);
    cr_assert_eq(p->sandbox.fs.read_only.n, 1);
    policy_free(p);
}

Test(good, program_names_may_hold_a_plus)
{
    struct policy *p = load(P("\"sandbox\": {\"exec\": {\"deny\": [\"g++\", \"c++*\"]}}"));
    cr_assert_not_null(p, "%s", all_errors());
    policy_free(p);
}

Test(good, version_up_to_two_to_the_53)
{
    struct policy *p = load(P("\"version\": 9007199254740992"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->version, 9007199254740992ULL);
    policy_free(p);
}

/* ------------------------------------------------------------------ bad corpus */

Test(bad, not_json)
{
    expect_error("{\"cordon_policy\": 1,", "", "not valid JSON at line 1");
}
Test(bad, json_error_has_line_and_column)
{
    expect_error("{\n  \"cordon_policy\": 1\n  \"agent\": \"a\"\n}", "", "line 3, column 3");
}
Test(bad, trailing_garbage)
{
    expect_error(P("\"mode\": \"enforce\"") " x", "", "not valid JSON");
}
Test(bad, top_level_array)
{
    expect_error("[]", "", "expected an object, got an array");
}
Test(bad, empty_document)
{
    expect_error("", "", "the document is empty");
}
Test(bad, missing_schema)
{
    expect_error("{\"agent\": \"a\"}", "cordon_policy", "missing");
}
Test(bad, wrong_schema)
{
    expect_error("{\"cordon_policy\": 2, \"agent\": \"a\"}", "cordon_policy",
                 "expected a whole number from 1 to 1, got 2");
}
Test(bad, missing_agent)
{
    expect_error("{\"cordon_policy\": 1}", "agent", "missing");
}
Test(bad, agent_with_space)
{
    expect_error("{\"cordon_policy\": 1, \"agent\": \"a b\"}", "agent", "expected 1 to 64 letters");
}
Test(bad, agent_not_string)
{
    expect_error("{\"cordon_policy\": 1, \"agent\": 7}", "agent", "expected a string, got 7");
}
Test(bad, mode_typo)
{
    expect_error(P("\"mode\": \"enforcing\""), "mode",
                 "expected one of enforce|observe, got \"enforcing\"");
}
Test(bad, unknown_top_key_suggests)
{
    expect_error(P("\"sandbx\": {}"), "sandbx", "unknown key; did you mean \"sandbox\"?");
}
Test(bad, network_mode_typo)
{
    expect_error(P("\"sandbox\": {\"network\": {\"mode\": \"proxi\"}}"), "sandbox.network.mode",
                 "expected one of none|proxy|host, got \"proxi\"");
}
Test(bad, enforcement_typo)
{
    expect_error(P("\"sandbox\": {\"enforcement\": \"strictest\"}"), "sandbox.enforcement",
                 "expected one of strict|best_effort, got \"strictest\"");
}
Test(bad, filesystem_unknown_key)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"readonly\": []}}"),
                 "sandbox.filesystem.readonly", "did you mean \"read_only\"");
}
Test(bad, read_write_not_array)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": \"/tmp\"}}"),
                 "sandbox.filesystem.read_write", "expected an array of paths, got a string");
}
Test(bad, relative_path)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_only\": [\"/ok\", \"src\"]}}"),
                 "sandbox.filesystem.read_only[1]", "path must be absolute");
}
Test(bad, dotdot_escape)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"${workspace}/../etc\"]}}"),
                 "sandbox.filesystem.read_write[0]", "must not contain \"..\"");
}
Test(bad, unknown_variable)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"${workdir}/x\"]}}"),
                 "sandbox.filesystem.read_write[0]", "unknown variable \"${workdir}\"");
}
Test(bad, tilde_user)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"deny\": [\"~root/.ssh\"]}}"),
                 "sandbox.filesystem.deny[0]", "\"~user\" is not supported");
}
Test(bad, unterminated_variable)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"deny\": [\"${home/x\"]}}"),
                 "sandbox.filesystem.deny[0]", "without a closing");
}
Test(bad, duplicate_path)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"deny\": [\"/a\", \"/a/\"]}}"),
                 "sandbox.filesystem.deny[1]", "names a path already listed");
}
Test(bad, duplicate_key_cannot_hide_a_rule)
{
    expect_error(P("\"mode\": \"enforce\", \"mode\": \"observe\""), "mode", "duplicate key");
}
Test(bad, duplicate_nested_key)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"deny\": [\"/x\"], \"deny\": []}}"),
                 "sandbox.filesystem.deny", "duplicate key");
}
Test(bad, deny_credentials_not_bool)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"deny_credentials\": \"no\"}}"),
                 "sandbox.filesystem.deny_credentials", "expected true or false, got \"no\"");
}
Test(bad, grant_inside_credentials)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_only\": [\"~/.ssh/config\"]}}"),
                 "sandbox.filesystem.read_only", "default credential deny set covers");
}
Test(bad, grant_inside_deny)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"/srv/x/y\"], \"deny\": "
                   "[\"/srv/x\"]}}"),
                 "sandbox.filesystem.read_write", "lies inside the denied \"/srv/x\"");
}
Test(bad, same_entry_read_only_and_read_write)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"/srv\"], \"read_only\": "
                   "[\"/srv\"]}}"),
                 "sandbox.filesystem.read_only", "also in read_write");
}
Test(bad, exec_name_with_space)
{
    expect_error(P("\"sandbox\": {\"exec\": {\"deny\": [\"r m\"]}}"), "sandbox.exec.deny[0]",
                 "expected a program name or glob");
}
Test(bad, exec_unknown_key)
{
    expect_error(P("\"sandbox\": {\"exec\": {\"denny\": []}}"), "sandbox.exec.denny",
                 "did you mean \"deny\"");
}
Test(bad, endpoint_without_port)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"example.com\"]}}"),
                 "sandbox.network.allow[0]", "expected \"host:port\"");
}
Test(bad, endpoint_port_out_of_range)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"example.com:70000\"]}}"),
                 "sandbox.network.allow[0]", "expected a port from 1 to 65535");
}
Test(bad, endpoint_port_zero)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"example.com:0\"]}}"),
                 "sandbox.network.allow[0]", "expected a port from 1 to 65535");
}
Test(bad, wildcard_too_broad)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"*.com:443\"]}}"),
                 "sandbox.network.allow[0]", "at least two labels");
}
Test(bad, hostname_with_bad_characters)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"exa mple.com:443\"]}}"),
                 "sandbox.network.allow[0]", "expected a host name");
}
Test(bad, allow_list_with_mode_none)
{
    expect_error(P("\"sandbox\": {\"network\": {\"mode\": \"none\", \"allow\": [\"a.b:1\"]}}"),
                 "sandbox.network.allow", "mode \"none\" permits no connection");
}
Test(bad, ipc_scope_typo)
{
    expect_error(P("\"sandbox\": {\"ipc\": {\"signals\": \"none\"}}"), "sandbox.ipc.signals",
                 "expected one of scoped|open, got \"none\"");
}
Test(bad, unix_sockets_typo)
{
    expect_error(P("\"sandbox\": {\"ipc\": {\"unix_sockets\": \"closed\"}}"),
                 "sandbox.ipc.unix_sockets", "expected one of open|pairs, got \"closed\"");
}
Test(bad, sysv_typo_names_the_choices)
{
    expect_error(P("\"sandbox\": {\"ipc\": {\"sysv\": \"privat\"}}"), "sandbox.ipc.sysv",
                 "expected one of deny|private, got \"privat\"");
    expect_error(P("\"sandbox\": {\"ipc\": {\"sysv\": true}}"), "sandbox.ipc.sysv",
                 "expected one of deny|private, got true");
    expect_error(P("\"sandbox\": {\"ipc\": {\"sysvv\": \"deny\"}}"), "sandbox.ipc.sysvv",
                 "did you mean \"sysv\"?");
}

/* ------------------------------------------------------------------ sandbox.limits */

static struct policy *load_limits(const char *body)
{
    char json[4096];
    snprintf(json, sizeof json, P("\"sandbox\": {\"limits\": {%s}}"), body);
    return load(json);
}

static void expect_limit_error(const char *body, const char *path, const char *msg)
{
    char json[8192];
    snprintf(json, sizeof json, P("\"sandbox\": {\"limits\": {%s}}"), body);
    expect_error(json, path, msg);
}

Test(good, limits_take_whole_numbers_and_sizes)
{
    struct policy *p = load_limits("\"processes\": 50, \"memory\": \"512M\", "
                                   "\"cpu_seconds\": 60, \"open_files\": 1024");
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.limits.processes, 50);
    cr_assert_eq(p->sandbox.limits.memory, 512ULL << 20);
    cr_assert_eq(p->sandbox.limits.cpu_seconds, 60);
    cr_assert_eq(p->sandbox.limits.open_files, 1024);
    policy_free(p);
    const struct {
        const char *v;
        uint64_t bytes;
    } sizes[] = {
        {"1048576", 1ULL << 20}, {"\"1048576\"", 1ULL << 20}, {"\"1024K\"", 1ULL << 20},
        {"\"1m\"", 1ULL << 20},  {"\"2G\"", 2ULL << 30},      {"\"2g\"", 2ULL << 30},
        {"\"1T\"", 1ULL << 40},  {"\"1024T\"", 1ULL << 50},   {"1125899906842624", 1ULL << 50}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "\"memory\": %s", sizes[i].v);
        p = load_limits(body);
        cr_assert_not_null(p, "%s refused: %s", sizes[i].v, all_errors());
        cr_assert_eq(p->sandbox.limits.memory, sizes[i].bytes, "%s", sizes[i].v);
        policy_free(p);
    }
    /* every bound itself is accepted */
    p = load_limits("\"processes\": 1, \"cpu_seconds\": 1, \"open_files\": 3");
    cr_assert_not_null(p, "%s", all_errors());
    policy_free(p);
    p = load_limits("\"processes\": 4194304, \"cpu_seconds\": 31536000, "
                    "\"open_files\": 2147483584");
    cr_assert_not_null(p, "%s", all_errors());
    policy_free(p);
}

Test(bad, limits_zero_says_how_to_mean_no_limit)
{
    expect_limit_error("\"processes\": 0", "sandbox.limits.processes",
                       "expected a whole number of processes from 1 to 4194304, got 0 (to set "
                       "no limit, leave the key out)");
    expect_limit_error("\"cpu_seconds\": 0", "sandbox.limits.cpu_seconds", "leave the key out");
    expect_limit_error("\"memory\": 0", "sandbox.limits.memory", "(below the minimum of 1M)");
}

Test(bad, limits_negative_fractional_and_overflowing)
{
    expect_limit_error("\"processes\": -1", "sandbox.limits.processes", "got -1");
    expect_limit_error("\"processes\": 1.5", "sandbox.limits.processes", "got 1.5");
    expect_limit_error("\"processes\": 4194305", "sandbox.limits.processes",
                       "from 1 to 4194304, got 4194305");
    expect_limit_error("\"cpu_seconds\": 1e300", "sandbox.limits.cpu_seconds", "got 1e+300");
    expect_limit_error("\"open_files\": 2", "sandbox.limits.open_files",
                       "from 3 to 2147483584, got 2");
    expect_limit_error("\"open_files\": 18446744073709551616", "sandbox.limits.open_files",
                       "got 1.84467440737096e+19");
    expect_limit_error("\"memory\": -1048576", "sandbox.limits.memory",
                       "(below the minimum of 1M)");
    expect_limit_error("\"memory\": \"1025T\"", "sandbox.limits.memory",
                       "(above the maximum of 1024T)");
    expect_limit_error("\"memory\": \"99999999999T\"", "sandbox.limits.memory",
                       "(above the maximum of 1024T)");
    expect_limit_error("\"memory\": \"99999999999999999999M\"", "sandbox.limits.memory",
                       "got \"99999999999999999999M\"");
    expect_limit_error("\"memory\": 1e300", "sandbox.limits.memory", "above the maximum");
    expect_limit_error("\"memory\": 1048576.5", "sandbox.limits.memory", "got 1048576.5");
}

Test(bad, limits_wrong_types_and_spellings)
{
    expect_limit_error("\"processes\": \"50\"", "sandbox.limits.processes",
                       "expected a whole number of processes from 1 to 4194304, got \"50\"");
    expect_limit_error("\"open_files\": true", "sandbox.limits.open_files", "got true");
    expect_limit_error("\"cpu_seconds\": null", "sandbox.limits.cpu_seconds", "got null");
    expect_limit_error("\"memory\": [1]", "sandbox.limits.memory", "got an array");
    expect_limit_error("\"memory\": \"2GB\"", "sandbox.limits.memory",
                       "got \"2GB\"; did you mean \"2G\"?");
    expect_limit_error("\"memory\": \"512MiB\"", "sandbox.limits.memory", "did you mean \"512M\"?");
    expect_limit_error("\"memory\": \"1.5G\"", "sandbox.limits.memory",
                       "(whole numbers only: \"1536M\", not \"1.5G\")");
    const char *const malformed[] = {"\"\"",    "\"M\"",     "\" 5M\"", "\"5 M\"", "\"+5M\"",
                                     "\"-5M\"", "\"0x10M\"", "\"5P\"",  "\"5MM\""};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        char body[96];
        snprintf(body, sizeof body, "\"memory\": %s", malformed[i]);
        expect_limit_error(body, "sandbox.limits.memory",
                           "a whole number of bytes, or a string of digits with K, M, G or T");
    }
    expect_limit_error("\"memroy\": \"1G\"", "sandbox.limits.memroy",
                       "unknown key; did you mean \"memory\"?");
    expect_error(P("\"sandbox\": {\"limits\": [50]}"), "sandbox.limits",
                 "expected an object, got an array");
    expect_error(P("\"sandbox\": {\"limit\": {}}"), "sandbox.limit", "did you mean \"limits\"?");
    expect_limit_error("\"processes\": 5, \"processes\": 5000", "sandbox.limits.processes",
                       "duplicate key");
}

Test(bad, limits_hostile_values_are_bounded)
{
    /* a size string far longer than any size: refused, quoted shortly, never overflows */
    char body[6000] = "\"memory\": \"";
    size_t o = strlen(body);
    memset(body + o, '9', 5000);
    memcpy(body + o + 5000, "M\"", 3);
    expect_limit_error(body, "sandbox.limits.memory", "string is 5001 bytes");
    /* a control character is refused by the string checks before the size is read */
    expect_limit_error("\"memory\": \"5\\u001bM\"", "sandbox.limits.memory",
                       "string contains a control character (0x1b)");
}

Test(bad, sandbox_not_object)
{
    expect_error(P("\"sandbox\": []"), "sandbox", "expected an object, got an array");
}
Test(bad, models_not_array)
{
    expect_error(P("\"api\": {\"models\": \"gpt-4o\"}"), "api.models",
                 "expected an array of model names, got a string");
}
Test(bad, model_name_with_space)
{
    expect_error(P("\"api\": {\"models\": [\"gpt 4\"]}"), "api.models[0]",
                 "expected a model name or glob");
}
Test(bad, duplicate_model)
{
    expect_error(P("\"api\": {\"models\": [\"a\", \"a\"]}"), "api.models[1]", "listed twice");
}
Test(bad, unknown_data_class)
{
    expect_error(P("\"api\": {\"data\": {\"pii.emial\": \"redact\"}}"), "api.data[\"pii.emial\"]",
                 "unknown data class \"pii.emial\"");
}
Test(bad, data_glob_matching_nothing)
{
    expect_error(P("\"api\": {\"data\": {\"pii.zz*\": \"redact\"}}"), "api.data[\"pii.zz*\"]",
                 "unknown data class");
}
Test(bad, data_action_typo)
{
    expect_error(P("\"api\": {\"data\": {\"pii.email\": \"masc\"}}"), "api.data[\"pii.email\"]",
                 "expected one of allow|log|redact|mask|hash|tokenize|block, got \"masc\"");
}
Test(bad, custom_class_missing_pattern)
{
    expect_error(
        P("\"api\": {\"data\": {\"custom\": [{\"class\": \"x\", \"action\": \"block\"}]}}"),
        "api.data.custom[0]", "(none of them is given)");
}
Test(bad, custom_class_shadows_builtin)
{
    expect_error(P("\"api\": {\"data\": {\"custom\": [{\"class\": \"health\", \"pattern\": "
                   "\"x+\", \"action\": \"block\"}]}}"),
                 "api.data.custom[0].class", "already defined");
}
Test(bad, custom_class_bad_name)
{
    expect_error(P("\"api\": {\"data\": {\"custom\": [{\"class\": \"Claim-ID\", \"pattern\": "
                   "\"x+\", \"action\": \"block\"}]}}"),
                 "api.data.custom[0].class", "expected a class name");
}
Test(good, data_actions_short_and_long_forms)
{
    struct policy *p = load(P(
        "\"api\": {\"data\": {\"pii.email\": {\"request\": \"tokenize\", \"response\": \"redact\", "
        "\"allow\": [\"noreply@example.com\"]}, \"pii.credit_card\": \"mask\", "
        "\"secret.*\": {\"action\": \"block\", \"response\": \"redact\", \"deny\": [\"hunter2\"]}, "
        "\"pii.phone\": \"hash\", \"custom\": ["
        "{\"class\": \"claim_id\", \"pattern\": \"CLM-[0-9]{8}\", \"action\": \"redact\"}, "
        "{\"class\": \"drugs\", \"words\": [\"ozempic\", \"wegovy\"], \"action\": \"block\"}, "
        "{\"class\": \"customer\", \"edm\": \"/etc/cordon/customers.edm\", \"request\": "
        "\"tokenize\", \"response\": \"log\", \"allow\": [\"ACME\"]}]}}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->api.data.n, 4);
    const struct policy_data_rule *r = &p->api.data.v[0];
    cr_assert_str_eq(r->cls, "pii.email");
    cr_assert_eq(r->request, POLICY_ACTION_TOKENIZE);
    cr_assert_eq(r->response, POLICY_ACTION_REDACT);
    cr_assert_eq(r->allow.n, 1);
    cr_assert_str_eq(r->allow.v[0], "noreply@example.com");
    cr_assert_eq(r->deny.n, 0);
    r = &p->api.data.v[1];
    cr_assert_eq(r->request, POLICY_ACTION_MASK);
    cr_assert_eq(r->response, POLICY_ACTION_MASK);
    r = &p->api.data.v[2];
    cr_assert_eq(r->request, POLICY_ACTION_BLOCK);   /* "action" sets both ... */
    cr_assert_eq(r->response, POLICY_ACTION_REDACT); /* ... and "response" overrides it */
    cr_assert_str_eq(r->deny.v[0], "hunter2");
    cr_assert_eq(p->api.data.v[3].request, POLICY_ACTION_HASH);
    cr_assert_eq(p->api.n_custom, 3);
    const struct policy_custom_class *cc = p->api.custom;
    cr_assert_str_eq(cc[0].pattern, "CLM-[0-9]{8}");
    cr_assert_null(cc[0].edm);
    cr_assert_eq(cc[0].words.n, 0);
    cr_assert_null(cc[1].pattern);
    cr_assert_eq(cc[1].words.n, 2);
    cr_assert_str_eq(cc[1].words.v[1], "wegovy");
    cr_assert_eq(cc[1].request, POLICY_ACTION_BLOCK);
    cr_assert_str_eq(cc[2].edm, "/etc/cordon/customers.edm");
    cr_assert_eq(cc[2].request, POLICY_ACTION_TOKENIZE);
    cr_assert_eq(cc[2].response, POLICY_ACTION_LOG);
    cr_assert_str_eq(cc[2].allow.v[0], "ACME");
    policy_free(p);
}
Test(good, every_action_name_parses)
{
    static const char *const names[] = {"allow", "log",      "redact", "mask",
                                        "hash",  "tokenize", "block"};
    for (int i = 0; i < 7; i++) {
        char json[256];
        snprintf(json, sizeof json, P("\"api\": {\"data\": {\"health\": \"%s\"}}"), names[i]);
        struct policy *p = load(json);
        cr_assert_not_null(p, "%s: %s", names[i], all_errors());
        cr_assert_eq((int)p->api.data.v[0].request, i);
        cr_assert_str_eq(policy_action_name(p->api.data.v[0].response), names[i]);
        policy_free(p);
    }
}
Test(bad, data_rule_without_both_directions)
{
    expect_error(P("\"api\": {\"data\": {\"pii.email\": {\"request\": \"redact\"}}}"),
                 "api.data[\"pii.email\"]", "no action for the response");
    expect_error(P("\"api\": {\"data\": {\"pii.email\": {\"allow\": [\"a@b.c\"]}}}"),
                 "api.data[\"pii.email\"]", "no action for the request or the response");
}
Test(bad, data_rule_unknown_key)
{
    expect_error(P("\"api\": {\"data\": {\"pii.email\": {\"action\": \"redact\", \"alow\": []}}}"),
                 "api.data[\"pii.email\"].alow", "allow");
}
Test(bad, data_rule_not_string_or_object)
{
    expect_error(P("\"api\": {\"data\": {\"pii.email\": 3}}"), "api.data[\"pii.email\"]",
                 "expected an action (\"redact\") or an object");
}
Test(bad, data_rule_bad_direction)
{
    expect_error(
        P("\"api\": {\"data\": {\"pii.email\": {\"action\": \"redact\", \"response\": \"undo\"}}}"),
        "api.data[\"pii.email\"].response", "expected one of allow|log|redact");
}
Test(bad, data_allow_list_duplicate)
{
    expect_error(P("\"api\": {\"data\": {\"pii.email\": {\"action\": \"redact\", \"allow\": "
                   "[\"a@b.c\", \"a@b.c\"]}}}"),
                 "api.data[\"pii.email\"].allow[1]", "listed twice");
    expect_error(P("\"api\": {\"data\": {\"pii.email\": {\"action\": \"redact\", \"deny\": "
                   "[\"\"]}}}"),
                 "api.data[\"pii.email\"].deny[0]", "");
}
Test(bad, custom_class_two_kinds)
{
    expect_error(P("\"api\": {\"data\": {\"custom\": [{\"class\": \"x\", \"pattern\": \"a+\", "
                   "\"words\": [\"a\"], \"action\": \"block\"}]}}"),
                 "api.data.custom[0]", "(several are given)");
}
Test(bad, custom_class_empty_words)
{
    expect_error(P("\"api\": {\"data\": {\"custom\": [{\"class\": \"x\", \"words\": [], "
                   "\"action\": \"block\"}]}}"),
                 "api.data.custom[0].words", "at least one word");
}
Test(bad, custom_class_relative_edm)
{
    expect_error(P("\"api\": {\"data\": {\"custom\": [{\"class\": \"x\", \"edm\": \"c.edm\", "
                   "\"action\": \"block\"}]}}"),
                 "api.data.custom[0].edm", "expected an absolute path");
}
Test(bad, custom_class_without_action)
{
    expect_error(P("\"api\": {\"data\": {\"custom\": [{\"class\": \"x\", \"edm\": \"/x.edm\"}]}}"),
                 "api.data.custom[0]", "no action for the request or the response");
}
Test(bad, tools_unknown_key)
{
    expect_error(P("\"api\": {\"tools\": {\"allowed\": []}}"), "api.tools.allowed",
                 "did you mean \"allow\"");
}
Test(bad, constraint_not_string)
{
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"crm_get\": {\"id\": 5}}}}"),
                 "api.tools.constraints.crm_get.id", "expected a string, got 5");
}
Test(bad, constraint_empty)
{
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"crm_get\": {}}}}"),
                 "api.tools.constraints.crm_get", "at least one");
}
Test(bad, negative_budget)
{
    expect_error(P("\"api\": {\"budget\": {\"session_usd\": -1}}"), "api.budget.session_usd",
                 "expected a number from 0 to 1000000, got -1");
}
Test(bad, session_over_day_budget)
{
    expect_error(P("\"api\": {\"budget\": {\"session_usd\": 9, \"day_usd\": 5}}"),
                 "api.budget.session_usd", "exceeds the day budget");
}
Test(bad, price_missing_output)
{
    expect_error(P("\"api\": {\"budget\": {\"prices\": {\"gpt-4o-mini\": {\"input_per_mtok\": "
                   "1}}}}"),
                 "api.budget.prices[\"gpt-4o-mini\"]", "needs both");
}
Test(bad, schedule_bad_time)
{
    expect_error(P("\"api\": {\"schedule\": [{\"outside\": \"Mon-Fri 8:00-18:00\", \"block\": "
                   "true}]}"),
                 "api.schedule[0].outside", "expected \"DAYS HH:MM-HH:MM\"");
}
Test(bad, schedule_bad_day)
{
    expect_error(P("\"api\": {\"schedule\": [{\"inside\": \"Mon-Fry 08:00-18:00\", \"block\": "
                   "true}]}"),
                 "api.schedule[0].inside", "expected \"DAYS HH:MM-HH:MM\"");
}
Test(bad, schedule_empty_window)
{
    expect_error(P("\"api\": {\"schedule\": [{\"inside\": \"Mon 08:00-08:00\", \"block\": "
                   "true}]}"),
                 "api.schedule[0].inside", "expected \"DAYS HH:MM-HH:MM\"");
}
Test(bad, schedule_outside_and_inside)
{
    expect_error(P("\"api\": {\"schedule\": [{\"outside\": \"Mon 08:00-09:00\", \"inside\": "
                   "\"Tue 08:00-09:00\", \"block\": true}]}"),
                 "api.schedule[0]", "exactly one of");
}
Test(bad, schedule_rule_without_effect)
{
    expect_error(P("\"api\": {\"schedule\": [{\"outside\": \"Mon-Fri 08:00-18:00\"}]}"),
                 "api.schedule[0]", "changes nothing");
}
Test(bad, schedule_tz_traversal)
{
    expect_error(P("\"api\": {\"schedule\": [{\"outside\": \"Mon 08:00-09:00\", \"tz\": "
                   "\"../../etc/passwd\", \"block\": true}]}"),
                 "api.schedule[0].tz", "expected an IANA time zone name");
}
Test(bad, schedule_data_cannot_define_custom)
{
    expect_error(P("\"api\": {\"schedule\": [{\"outside\": \"Mon 08:00-09:00\", \"data\": "
                   "{\"custom\": []}}]}"),
                 "api.schedule[0].data.custom", "defined once");
}
Test(bad, anomaly_trigger_typo)
{
    expect_error(P("\"api\": {\"anomaly\": {\"requests_per_minute\": 5, \"on_trigger\": "
                   "\"kill\"}}"),
                 "api.anomaly.on_trigger", "expected one of alert|throttle|quarantine");
}
Test(bad, anomaly_zero_rate)
{
    expect_error(P("\"api\": {\"anomaly\": {\"requests_per_minute\": 0}}"),
                 "api.anomaly.requests_per_minute", "from 1 to 100000, got 0");
}
Test(bad, anomaly_fractional_rate)
{
    expect_error(P("\"api\": {\"anomaly\": {\"requests_per_minute\": 1.5}}"),
                 "api.anomaly.requests_per_minute", "expected a whole number");
}
Test(bad, anomaly_without_trigger)
{
    expect_error(P("\"api\": {\"anomaly\": {\"on_trigger\": \"log\"}}"), "api.anomaly",
                 "no trigger is set");
}
Test(bad, anomaly_throttle_seconds_without_throttle)
{
    expect_error(P("\"api\": {\"anomaly\": {\"requests_per_minute\": 5, \"throttle_seconds\": 5}}"),
                 "api.anomaly.throttle_seconds", "applies only with");
}
Test(bad, anomaly_new_triggers_bounded)
{
    expect_error(P("\"api\": {\"anomaly\": {\"usd_per_hour\": -1}}"), "api.anomaly.usd_per_hour",
                 "expected a number");
    expect_error(P("\"api\": {\"anomaly\": {\"distinct_tools_per_10_minutes\": 101}}"),
                 "api.anomaly.distinct_tools_per_10_minutes", "from 1 to 100");
    expect_error(P("\"api\": {\"anomaly\": {\"new_egress_hosts_per_hour\": 0}}"),
                 "api.anomaly.new_egress_hosts_per_hour", "from 1 to 100");
    expect_error(P("\"api\": {\"anomaly\": {\"tokens_per_minute\": 1.5}}"),
                 "api.anomaly.tokens_per_minute", "expected a whole number");
}
Test(good, anomaly_triggers_and_the_log_alias)
{
    struct policy *p =
        load(P("\"api\": {\"anomaly\": {\"tokens_per_minute\": 50000, \"usd_per_hour\": 2.5, "
               "\"denials_per_10_minutes\": 5, \"distinct_tools_per_10_minutes\": 20, "
               "\"new_egress_hosts_per_hour\": 3, \"on_trigger\": \"log\"}}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->api.on_trigger, POLICY_TRIGGER_ALERT, "log is read as alert");
    cr_assert_eq(p->api.tokens_per_minute, 50000);
    cr_assert_float_eq(p->api.usd_per_hour, 2.5, 1e-9);
    cr_assert_eq(p->api.distinct_tools_per_10_minutes, 20);
    cr_assert_eq(p->api.new_egress_hosts_per_hour, 3);
    cr_assert_eq(p->api.requests_per_minute, 0);
    policy_free(p);
    p = load(P("\"api\": {\"anomaly\": {\"requests_per_minute\": 5, \"on_trigger\": "
               "\"throttle\", \"throttle_seconds\": 90}}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->api.throttle_seconds, 90);
    cr_assert_lt(p->api.usd_per_hour, 0, "off when absent");
    policy_free(p);
}
Test(bad, audit_typo)
{
    expect_error(P("\"api\": {\"audit\": {\"prompts\": \"full\"}}"), "api.audit.prompts",
                 "expected one of digest|text, got \"full\"");
}
Test(bad, poll_too_fast)
{
    expect_error(P("\"poll_seconds\": 1"), "poll_seconds", "from 5 to 86400, got 1");
}
Test(bad, control_character_in_string)
{
    expect_error(P("\"description\": \"a\\u001bb\""), "description", "control character");
}

Test(bad, literal_duplicate_across_read_only_and_read_write)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"/srv\"], \"read_only\": "
                   "[\"/srv/\"]}}"),
                 "sandbox.filesystem.read_only", "also in read_write");
}
Test(bad, duplicate_exec_name)
{
    expect_error(P("\"sandbox\": {\"exec\": {\"deny\": [\"rm\", \"rm\"]}}"), "sandbox.exec.deny[1]",
                 "listed twice");
}
Test(bad, glob_in_exec_path)
{
    expect_error(P("\"sandbox\": {\"exec\": {\"allow\": [\"/opt/tools/*\"]}}"),
                 "sandbox.exec.allow[0]", "globs are matched against program names");
}
Test(bad, duplicate_endpoint)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"a.example:443\", "
                   "\"A.example:443\"]}}"),
                 "sandbox.network.allow[1]", "listed twice");
}
Test(bad, ipv4_out_of_range)
{
    expect_error(P("\"sandbox\": {\"network\": {\"allow\": [\"999.1.1.1:80\"]}}"),
                 "sandbox.network.allow[0]", "IPv4 address");
}
Test(bad, schedule_rule_with_empty_objects_changes_nothing)
{
    expect_error(P("\"api\": {\"schedule\": [{\"inside\": \"Mon 08:00-09:00\", \"tools\": {}, "
                   "\"data\": {}}]}"),
                 "api.schedule[0]", "changes nothing");
}
Test(bad, models_not_array_message_reads_well)
{
    expect_error(P("\"api\": {\"models\": \"x\"}"), "api.models",
                 "expected an array of model names, got a string");
}
Test(bad, large_number_is_printed_in_full)
{
    expect_error(P("\"api\": {\"budget\": {\"session_usd\": 1000001}}"), "api.budget.session_usd",
                 "from 0 to 1000000, got 1000001");
}
Test(bad, version_beyond_two_to_the_53)
{
    expect_error(P("\"version\": 9007199254740994"), "version", "expected a whole number");
}

Test(bad, every_error_is_reported_not_just_the_first)
{
    struct policy *p = load(P("\"mode\": \"x\", \"poll_seconds\": 0, \"sandbox\": {\"network\": "
                              "{\"mode\": \"y\"}}, \"api\": {\"models\": 3}"));
    cr_assert_null(p);
    cr_assert_eq(diag_total(&d), 4, "expected 4 errors, got:\n%s", all_errors());
}

/* ------------------------------------------------------------------ hostile input */

Test(hostile, nesting_is_bounded_before_parsing)
{
    char buf[4096];
    size_t o = 0;
    for (int i = 0; i < 1000; i++)
        buf[o++] = '[';
    buf[o] = '\0';
    expect_error(buf, "", "nests deeper than 8 levels");
}

Test(hostile, deep_but_valid_json_is_refused)
{
    expect_error(P("\"description\": [[[[[[[[[[1]]]]]]]]]]"), "", "nests deeper");
}

Test(hostile, nul_escape_is_refused)
{
    expect_error(P("\"agent\": \"a\\u0000b\""), "", "\\u0000");
}

Test(hostile, raw_nul_byte_is_refused)
{
    const char doc[] = "{\"cordon_policy\": 1, \"agent\": \"a\"}\0garbage";
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_neq(policy_load(doc, sizeof doc - 1, &test_env, &p, &d), 0);
    cr_assert_null(p);
    cr_assert(strstr(d.e[0].msg, "NUL byte"), "%s", all_errors());
}

Test(hostile, oversized_document_is_refused)
{
    size_t n = POLICY_MAX_BYTES + 10;
    char *buf = malloc(n + 1);
    memset(buf, ' ', n);
    const char *valid = "{\"cordon_policy\": 1, \"agent\": \"a\"}";
    memcpy(buf, valid, strlen(valid)); /* valid JSON followed by white space */
    buf[n] = '\0';
    expect_error(buf, "", "a policy may be at most 1048576 bytes");
    free(buf);
}

Test(hostile, long_string_is_refused)
{
    size_t n = 5000;
    char *buf = malloc(n + 100);
    int o = snprintf(buf, 100, "{\"cordon_policy\": 1, \"agent\": \"a\", \"description\": \"");
    memset(buf + o, 'x', n);
    strcpy(buf + o + n, "\"}");
    expect_error(buf, "description", "string is 5000 bytes");
    free(buf);
}

Test(hostile, too_many_entries_are_refused)
{
    size_t cap = 1100 * 8 + 200;
    char *buf = malloc(cap);
    size_t o = (size_t)snprintf(buf, cap,
                                "{\"cordon_policy\": 1, \"agent\": \"a\", \"api\": "
                                "{\"models\": [");
    for (int i = 0; i < 1100; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s\"m%d\"", i ? "," : "", i);
    snprintf(buf + o, cap - o, "]}}");
    expect_error(buf, "api.models", "too many entries (1100)");
    free(buf);
}

Test(hostile, error_list_is_bounded)
{
    size_t cap = 300 * 24 + 200;
    char *buf = malloc(cap);
    size_t o = (size_t)snprintf(buf, cap, "{\"cordon_policy\": 1, \"agent\": \"a\"");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(buf + o, cap - o, ", \"bogus%d\": 1", i);
    snprintf(buf + o, cap - o, "}");
    struct policy *p = load(buf);
    cr_assert_null(p);
    cr_assert_eq(d.count, DIAG_MAX);
    cr_assert_eq(diag_total(&d), 300);
    free(buf);
}

Test(hostile, key_with_control_characters_is_quoted_in_the_path)
{
    struct policy *p = load(P("\"api\": {\"data\": {\"x\\u001b[31m\": \"block\"}}"));
    cr_assert_null(p);
    cr_assert_eq(d.count, 1, "%s", all_errors());
    cr_assert(strstr(d.e[0].path, "\\x1b"), "control character not escaped: %s", d.e[0].path);
    cr_assert_null(strchr(d.e[0].path, 0x1b));
}

Test(glob, matches_like_the_documentation_says)
{
    cr_assert(glob_match("claude-*", "claude-3-5-sonnet"));
    cr_assert(glob_match("*", ""));
    cr_assert(glob_match("secret.*", "secret.jwt"));
    cr_assert(!glob_match("secret.*", "secrets.jwt"));
    cr_assert(glob_match("gpt-4?", "gpt-4o"));
    cr_assert(!glob_match("gpt-4?", "gpt-4o-mini"));
    cr_assert(glob_match("a*b*c", "aXXbYYc"));
    cr_assert(!glob_match("a*b*c", "aXXbYY"));
}

Test(env, home_with_dotdot_falls_back_to_the_passwd_entry)
{
    struct policy_env env;
    struct policy_env_storage *st = malloc(sizeof *st);
    setenv("HOME", "/root/../etc", 1);
    cr_assert_eq(policy_env_from_process(&env, st, NULL), 0);
    cr_assert_not_null(env.vars.home, "no home at all");
    cr_assert_null(strstr(env.vars.home, ".."));
    cr_assert_eq(env.vars.home[0], '/');
    free(st);
}

Test(env, workspace_defaults_to_the_current_directory)
{
    struct policy_env env;
    struct policy_env_storage *st = malloc(sizeof *st);
    char cwd[PATH_MAXLEN];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(policy_env_from_process(&env, st, NULL), 0);
    cr_assert_str_eq(env.vars.workspace, cwd);
    cr_assert_eq(policy_env_from_process(&env, st, "/nonexistent/ws"), -ENOENT);
    free(st);
}

/* ------------------------------------------------------------------ the host secret set */

/* The deny entry of p with path, or NULL. */
static const struct policy_path *denied(const struct policy *p, const char *path)
{
    for (size_t i = 0; i < p->sandbox.fs.deny.n; i++)
        if (strcmp(p->sandbox.fs.deny.v[i].path, path) == 0)
            return &p->sandbox.fs.deny.v[i];
    return NULL;
}

Test(host, fixed_set_is_denied_with_its_own_origin_whatever_the_policy_says)
{
    struct policy *p = load(P("\"sandbox\": {\"filesystem\": {\"deny_credentials\": false, "
                              "\"read_only\": [\"/\"], \"deny\": []}}"));
    cr_assert_not_null(p, "%s", all_errors());
    const char *want[] = {"/etc/cordon", "/var/lib/cordond", "/run/cordond",
                          "/home/tester/.local/state/cordon"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct policy_path *e = denied(p, want[i]);
        cr_assert_not_null(e, "%s is not denied", want[i]);
        cr_assert_eq(e->origin, POLICY_ORIGIN_HOST);
    }
    cr_assert_str_eq(policy_origin_name(POLICY_ORIGIN_HOST), "host");
    policy_free(p);
}

Test(host, a_grant_inside_a_host_secret_is_refused_saying_whose_it_is)
{
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_only\": [\"/etc/cordon/policies\"]}}"),
                 "sandbox.filesystem.read_only", "belongs to cordond and cannot be granted");
    expect_error(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"/var/lib/cordond\"]}}"),
                 "sandbox.filesystem.read_write", "holds cordond's secrets");
    expect_error(P("\"sandbox\": {\"filesystem\": {\"deny_credentials\": false, "
                   "\"read_only\": [\"~/.local/state/cordon/audit\"]}}"),
                 "sandbox.filesystem.read_only", "belongs to cordond");
}

Test(host, host_deny_joins_the_deny_list_as_host)
{
    struct policy *p = load(P("\"host_deny\": [\"/srv/cordond/signing.key\", \"/srv/cd//state/\", "
                              "\"/srv/cordond/signing.key\"]"));
    cr_assert_not_null(p, "%s", all_errors());
    const struct policy_path *e = denied(p, "/srv/cordond/signing.key");
    cr_assert_not_null(e);
    cr_assert_eq(e->origin, POLICY_ORIGIN_HOST);
    e = denied(p, "/srv/cd/state");
    cr_assert_not_null(e, "host_deny is normalized");
    cr_assert_eq(e->origin, POLICY_ORIGIN_HOST);
    /* the duplicate is folded */
    size_t n = 0;
    for (size_t i = 0; i < p->sandbox.fs.deny.n; i++)
        n += strcmp(p->sandbox.fs.deny.v[i].path, "/srv/cordond/signing.key") == 0;
    cr_assert_eq(n, 1);
    policy_free(p);
    expect_error(P("\"host_deny\": [\"/srv/cordond\"], \"sandbox\": {\"filesystem\": "
                   "{\"read_write\": [\"/srv/cordond/audit\"]}}"),
                 "sandbox.filesystem.read_write", "belongs to cordond");
}

Test(host, host_deny_is_taken_literally)
{
    /* a name with "${" or "~" in it is a name: nothing is expanded in a signer's path */
    struct policy *p = load(P("\"host_deny\": [\"/srv/${home}/x\", \"/srv/~\"]"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_not_null(denied(p, "/srv/${home}/x"));
    cr_assert_not_null(denied(p, "/srv/~"));
    cr_assert_null(denied(p, "/srv/home/tester/x"));
    policy_free(p);
}

Test(host, malformed_host_deny_is_refused)
{
    expect_error(P("\"host_deny\": \"/etc/cordon\""), "host_deny", "expected an array");
    expect_error(P("\"host_deny\": {}"), "host_deny", "expected an array");
    expect_error(P("\"host_deny\": [42]"), "host_deny[0]", "expected a string");
    expect_error(P("\"host_deny\": [\"\"]"), "host_deny[0]", "non-empty");
    expect_error(P("\"host_deny\": [\"etc/cordon\"]"), "host_deny[0]", "expected an absolute path");
    expect_error(P("\"host_deny\": [\"~/.ssh\"]"), "host_deny[0]", "expected an absolute path");
    expect_error(P("\"host_deny\": [\"/a/../b\"]"), "host_deny[0]", "must not contain");
    expect_error(P("\"host_deny\": [\"/\"]"), "host_deny[0]", "whole file system");
    expect_error(P("\"host_deny\": [\"//./\"]"), "host_deny[0]", "whole file system");
    expect_error(P("\"host_deny\": [\"/a\\tb\"]"), "host_deny[0]", "control character");
}

Test(host, too_many_and_oversized_host_deny_entries_are_refused)
{
    char doc[8192] = "{\"cordon_policy\": 1, \"agent\": \"a\", \"host_deny\": [";
    size_t o = strlen(doc);
    for (int i = 0; i <= POLICY_HOST_DENY_MAX; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "%s\"/h/%d\"", i ? "," : "", i);
    snprintf(doc + o, sizeof doc - o, "]}");
    expect_error(doc, "host_deny", "too many entries");
    /* exactly the limit is fine */
    o = strlen("{\"cordon_policy\": 1, \"agent\": \"a\", \"host_deny\": [");
    doc[o] = '\0';
    for (int i = 0; i < POLICY_HOST_DENY_MAX; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "%s\"/h/%d\"", i ? "," : "", i);
    snprintf(doc + o, sizeof doc - o, "]}");
    struct policy *p = load(doc);
    cr_assert_not_null(p, "%s", all_errors());
    policy_free(p);
    /* one entry of 4096 bytes: longer than any path */
    size_t big = 4096 + 128;
    char *huge = malloc(big);
    cr_assert_not_null(huge);
    int n = snprintf(huge, big, "{\"cordon_policy\": 1, \"agent\": \"a\", \"host_deny\": [\"/");
    memset(huge + n, 'x', 4095);
    snprintf(huge + n + 4095, big - (size_t)n - 4095, "\"]}");
    expect_error(huge, "host_deny[0]", "longer than 4095 bytes");
    free(huge);
}

Test(host, the_environment_adds_host_secrets)
{
    static const char *const extra[] = {"/opt/cd/keys/policy.key", "/opt/cd/state"};
    struct policy_env env = test_env;
    env.state_home = "/home/tester/xdg-state";
    env.host_deny = extra;
    env.n_host_deny = 2;
    const char *doc = P("\"sandbox\": {\"filesystem\": {\"read_only\": [\"/opt\"]}}");
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_eq(policy_load(doc, strlen(doc), &env, &p, &d), 0, "%s", all_errors());
    cr_assert_not_null(denied(p, "/home/tester/xdg-state/cordon"));
    cr_assert_eq(denied(p, "/opt/cd/state")->origin, POLICY_ORIGIN_HOST);
    cr_assert_eq(denied(p, "/opt/cd/keys/policy.key")->origin, POLICY_ORIGIN_HOST);
    policy_free(p);
    const char *inside = P("\"sandbox\": {\"filesystem\": {\"read_only\": [\"/opt/cd/state/x\"]}}");
    diag_init(&d);
    cr_assert_neq(policy_load(inside, strlen(inside), &env, &p, &d), 0);
    cr_assert(strstr(all_errors(), "belongs to cordond"), "%s", all_errors());
}

/* ------------------------------------------------------------------ judging files to use */

static char fx[256];

static void fx_setup(void)
{
    char t[] = "/tmp/cordon-pf-XXXXXX", real[PATH_MAXLEN];
    cr_assert_not_null(mkdtemp(t));
    cr_assert_not_null(realpath(t, real));
    cr_assert_lt(strlen(real), sizeof fx);
    memcpy(fx, real, strlen(real) + 1);
}

static void fx_teardown(void)
{
    char cmd[sizeof fx + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(judge, .init = fx_setup, .fini = fx_teardown);

/* A policy granting fx/ws read-write and fx/ro read-only, compiled with symlinks resolved. */
static struct policy *judge_policy(void)
{
    char doc[1024], ws[300], ro[300];
    snprintf(ws, sizeof ws, "%s/ws", fx);
    snprintf(ro, sizeof ro, "%s/ro", fx);
    cr_assert_eq(mkdir(ws, 0700), 0);
    cr_assert_eq(mkdir(ro, 0700), 0);
    snprintf(doc, sizeof doc,
             P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"%s\"], "
               "\"read_only\": [\"%s\"]}}"),
             ws, ro);
    struct policy_env env = test_env;
    env.resolve_symlinks = 1;
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_eq(policy_load(doc, strlen(doc), &env, &p, &d), 0, "%s", all_errors());
    return p;
}

Test(judge, a_policy_file_in_a_read_write_grant_is_refused_however_it_is_named)
{
    struct policy *p = judge_policy();
    char path[600], link[600], err[1024];
    snprintf(path, sizeof path, "%s/ws/policy.json", fx);
    cr_assert_eq(policy_check_policy_file(p, path, err, sizeof err), -EPERM);
    cr_assert(strstr(err, "could rewrite the policy"), "%s", err);
    /* through a symlink from outside the grants, and with a doubled slash */
    snprintf(link, sizeof link, "%s/alink", fx);
    snprintf(path, sizeof path, "%s/ws", fx);
    cr_assert_eq(symlink(path, link), 0);
    snprintf(path, sizeof path, "%s/alink/policy.json", fx);
    cr_assert_eq(policy_check_policy_file(p, path, err, sizeof err), -EPERM);
    cr_assert(strstr(err, "which resolves to"), "%s", err);
    snprintf(path, sizeof path, "/%s//ws/./policy.json", fx);
    cr_assert_eq(policy_check_policy_file(p, path, err, sizeof err), -EPERM);
    /* read-only and outside every grant: fine */
    snprintf(path, sizeof path, "%s/ro/policy.json", fx);
    cr_assert_eq(policy_check_policy_file(p, path, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/policy.json", fx);
    cr_assert_eq(policy_check_policy_file(p, path, err, sizeof err), 0, "%s", err);
    policy_free(p);
}

Test(judge, grant_covering_counts_read_only_grants_only_when_asked)
{
    struct policy *p = judge_policy();
    char path[600], canon[PATH_MAXLEN];
    int rc;
    snprintf(path, sizeof path, "%s/ro/x/../audit", fx);
    cr_assert_null(policy_grant_covering(p, path, 1, canon, &rc));
    cr_assert_eq(rc, 0);
    const struct policy_path *g = policy_grant_covering(p, path, 0, canon, &rc);
    cr_assert_not_null(g);
    cr_assert_eq(rc, 0);
    char want[600];
    snprintf(want, sizeof want, "%s/ro/audit", fx);
    cr_assert_str_eq(canon, want);
    /* a loop cannot be judged: the caller is told, nothing is covered */
    char l1[600], l2[600];
    snprintf(l1, sizeof l1, "%s/l1", fx);
    snprintf(l2, sizeof l2, "%s/l2", fx);
    cr_assert_eq(symlink(l2, l1), 0);
    cr_assert_eq(symlink(l1, l2), 0);
    snprintf(path, sizeof path, "%s/l1/p.json", fx);
    cr_assert_null(policy_grant_covering(p, path, 1, canon, &rc));
    cr_assert_eq(rc, -ELOOP);
    char err[512];
    cr_assert_eq(policy_check_policy_file(p, path, err, sizeof err), -ELOOP);
    cr_assert(strstr(err, "cannot be resolved"), "%s", err);
    policy_free(p);
}

/* ------------------------------------------------------------------ model proxy keys */

Test(proxy_keys, defaults_are_strip_drop_refuse)
{
    struct policy *p = load(P("\"api\": {\"tools\": {\"allow\": [\"t\"]}}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->api.on_denied_definition, POLICY_DEFINITION_STRIP);
    cr_assert_eq(p->api.on_denied_call, POLICY_CALL_DROP);
    cr_assert_eq(p->api.previous_response_id, POLICY_STORED_REFUSE);
    policy_free(p);
}

Test(proxy_keys, each_is_read)
{
    struct policy *p = load(P("\"api\": {\"tools\": {\"allow\": [\"t\"], "
                              "\"on_denied_definition\": \"refuse\", \"on_denied_call\": "
                              "\"notice\"}, \"previous_response_id\": \"allow\"}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->api.on_denied_definition, POLICY_DEFINITION_REFUSE);
    cr_assert_eq(p->api.on_denied_call, POLICY_CALL_NOTICE);
    cr_assert_eq(p->api.previous_response_id, POLICY_STORED_ALLOW);
    cr_assert_str_eq(policy_denied_definition_name(p->api.on_denied_definition), "refuse");
    cr_assert_str_eq(policy_denied_call_name(p->api.on_denied_call), "notice");
    cr_assert_str_eq(policy_stored_context_name(p->api.previous_response_id), "allow");
    policy_free(p);
}

Test(proxy_keys, wrong_values_name_the_choices)
{
    expect_error(P("\"api\": {\"tools\": {\"on_denied_definition\": \"drop\"}}"),
                 "api.tools.on_denied_definition", "expected one of strip|refuse, got \"drop\"");
    expect_error(P("\"api\": {\"tools\": {\"on_denied_call\": \"strip\"}}"),
                 "api.tools.on_denied_call", "expected one of drop|notice");
    expect_error(P("\"api\": {\"previous_response_id\": true}"), "api.previous_response_id",
                 "expected one of refuse|allow");
}

Test(proxy_keys, constraint_object_form)
{
    struct policy *p = load(P("\"api\": {\"tools\": {\"allow\": [\"*\"], \"constraints\": "
                              "{\"crm_get\": {\"id\": \"[0-9]+\", \"region\": {\"enum\": "
                              "[\"eu\", \"us\", 7]}, \"limit\": {\"min\": 1, \"max\": 100, "
                              "\"optional\": true}, \"q\": {\"pattern\": \"\\\\w+\"}}}}}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->api.n_constraints, 4);
    const struct policy_constraint *k = p->api.constraints;
    cr_assert_str_eq(k[0].arg, "id");
    cr_assert_str_eq(k[0].pattern, "[0-9]+");
    cr_assert_eq(k[0].n_enum, 0);
    cr_assert_eq(k[0].optional, 0);
    cr_assert_str_eq(k[1].arg, "region");
    cr_assert_null(k[1].pattern);
    cr_assert_eq(k[1].n_enum, 3);
    cr_assert_str_eq(k[1].enum_v[0], "eu");
    cr_assert_str_eq(k[1].enum_v[2], "7");
    cr_assert(k[2].has_min && k[2].has_max && k[2].min == 1 && k[2].max == 100);
    cr_assert_eq(k[2].optional, 1);
    cr_assert_str_eq(k[3].pattern, "\\w+");
    policy_free(p);
}

Test(proxy_keys, constraint_object_errors)
{
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"patern\": "
                   "\"x\"}}}}}"),
                 "api.tools.constraints.t.a.patern", "unknown key");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"optional\": "
                   "true}}}}}"),
                 "api.tools.constraints.t.a", "checks nothing");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"min\": 5, "
                   "\"max\": 1}}}}}"),
                 "api.tools.constraints.t.a", "min 5 is above max 1");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"enum\": []}}}}}"),
                 "api.tools.constraints.t.a.enum", "at least one value");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"enum\": "
                   "[\"x\", {}]}}}}}"),
                 "api.tools.constraints.t.a.enum[1]", "expected a string or a number");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"enum\": "
                   "[\"x\", \"x\"]}}}}}"),
                 "api.tools.constraints.t.a.enum[1]", "listed twice");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"min\": "
                   "\"1\"}}}}}"),
                 "api.tools.constraints.t.a.min", "expected");
    expect_error(P("\"api\": {\"tools\": {\"constraints\": {\"t\": {\"a\": {\"optional\": "
                   "1, \"max\": 3}}}}}"),
                 "api.tools.constraints.t.a.optional", "expected");
}

/* ------------------------------------------------------------------ api.budget, api.rate */

Test(policy, budget_and_rate_keys)
{
    struct policy *p = load(P("\"api\": {\"budget\": {\"session_usd\": 1, \"day_usd\": 5, "
                              "\"month_usd\": 50, \"session_tokens\": 1000, \"day_tokens\": 0, "
                              "\"tz\": \"Europe/Brussels\", \"max_tokens_default\": 4096, "
                              "\"models_max_output\": {\"gpt-*\": 16384}, \"prices\": "
                              "{\"gpt-*\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2, "
                              "\"cached_input_per_mtok\": 0.5, \"reasoning_per_mtok\": 3, "
                              "\"cache_write_per_mtok\": 1.25}}}, \"rate\": "
                              "{\"requests_per_minute\": 60, \"tokens_per_minute\": 100000, "
                              "\"concurrent_per_agent\": 4, \"concurrent_per_session\": 2}}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert(p->api.has_budget);
    cr_assert_eq(p->api.month_usd, 50);
    cr_assert_eq(p->api.session_tokens, 1000);
    cr_assert_eq(p->api.day_tokens, 0, "0 is a limit, not unlimited");
    cr_assert_eq(p->api.month_tokens, -1);
    cr_assert_str_eq(p->api.budget_tz, "Europe/Brussels");
    cr_assert_eq(p->api.max_tokens_default, 4096);
    cr_assert_eq(p->api.n_models_max, 1);
    cr_assert_eq(p->api.models_max[0].max_output, 16384);
    cr_assert_eq(p->api.prices[0].cached_input_per_mtok, 0.5);
    cr_assert_eq(p->api.prices[0].reasoning_per_mtok, 3);
    cr_assert_eq(p->api.prices[0].cache_write_per_mtok, 1.25);
    cr_assert_eq(p->api.rate_requests_per_minute, 60);
    cr_assert_eq(p->api.rate_tokens_per_minute, 100000);
    cr_assert_eq(p->api.rate_concurrent_per_agent, 4);
    cr_assert_eq(p->api.rate_concurrent_per_session, 2);
    policy_free(p);
    p = load(P("\"api\": {\"budget\": {\"prices\": {\"m\": {\"input_per_mtok\": 1, "
               "\"output_per_mtok\": 1}}}}"));
    cr_assert_not_null(p);
    cr_assert(!p->api.has_budget, "prices alone limit nothing");
    cr_assert_eq(p->api.prices[0].cached_input_per_mtok, -1);
    policy_free(p);
}

Test(policy, budget_and_rate_refusals)
{
    expect_error(P("\"api\": {\"budget\": {\"prices\": {\"m\": {\"input_per_mtok\": -1, "
                   "\"output_per_mtok\": 1}}}}"),
                 "api.budget.prices.m.input_per_mtok", "expected a number from 0 to 10000");
    expect_error(P("\"api\": {\"budget\": {\"prices\": {\"m\": {\"input_per_mtok\": 1e999, "
                   "\"output_per_mtok\": 1}}}}"),
                 "api.budget.prices.m.input_per_mtok", "expected a number");
    expect_error(P("\"api\": {\"budget\": {\"prices\": {\"m\": {\"input_per_mtok\": 1, "
                   "\"output_per_mtok\": 1, \"reasoning_per_mtok\": -0.5}}}}"),
                 "api.budget.prices.m.reasoning_per_mtok", "expected a number");
    expect_error(P("\"api\": {\"budget\": {\"prices\": {\"m\": {\"input_per_mtok\": \"1\", "
                   "\"output_per_mtok\": 1}}}}"),
                 "api.budget.prices.m.input_per_mtok", "expected a number");
    expect_error(P("\"api\": {\"budget\": {\"day_usd\": 9, \"month_usd\": 5}}"),
                 "api.budget.day_usd", "exceeds the month budget");
    expect_error(P("\"api\": {\"budget\": {\"day_tokens\": 1.5}}"), "api.budget.day_tokens",
                 "whole number");
    expect_error(P("\"api\": {\"budget\": {\"tz\": \"../etc/passwd\"}}"), "api.budget.tz",
                 "IANA time zone");
    expect_error(P("\"api\": {\"budget\": {\"models_max_output\": {\"m\": 0}}}"),
                 "api.budget.models_max_output.m", "whole number");
    expect_error(P("\"api\": {\"rate\": {}}"), "api.rate", "no limit is set");
    expect_error(P("\"api\": {\"rate\": {\"requests_per_minute\": 0}}"),
                 "api.rate.requests_per_minute", "whole number from 1");
    expect_error(P("\"api\": {\"rate\": {\"burst\": 3}}"), "api.rate.burst", "unknown key");
}

/* ------------------------------------------------------------------ sandbox.presets */

/* The exec allow path of p whose raw form is raw, or NULL. */
static const struct policy_path *allow_path(const struct policy *p, const char *raw)
{
    for (size_t i = 0; i < p->sandbox.exec.allow_paths.n; i++)
        if (strcmp(p->sandbox.exec.allow_paths.v[i].raw, raw) == 0)
            return &p->sandbox.exec.allow_paths.v[i];
    return NULL;
}

Test(presets, home_toolchains_grants_read_and_execute_under_home)
{
    struct policy *p = load(P("\"sandbox\": {\"presets\": [\"home-toolchains\"]}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.presets.n, 1);
    cr_assert_str_eq(p->sandbox.presets.v[0], "home-toolchains");
    const char *want[][2] = {
        {"~/.pyenv", "/home/tester/.pyenv"},
        {"~/.conda", "/home/tester/.conda"},
        {"~/miniconda3", "/home/tester/miniconda3"},
        {"~/miniforge3", "/home/tester/miniforge3"},
        {"~/anaconda3", "/home/tester/anaconda3"},
        {"~/.local/share/uv", "/home/tester/.local/share/uv"},
        {"~/.cargo/bin", "/home/tester/.cargo/bin"},
        {"~/.rustup", "/home/tester/.rustup"},
        {"~/.local/pipx", "/home/tester/.local/pipx"},
        {"~/.nvm", "/home/tester/.nvm"},
        {"~/.volta", "/home/tester/.volta"},
        {"~/.local/share/fnm", "/home/tester/.local/share/fnm"},
        {"~/.fnm", "/home/tester/.fnm"},
        {"~/.bun", "/home/tester/.bun"},
        {"~/go/bin", "/home/tester/go/bin"},
        {"~/.local/bin", "/home/tester/.local/bin"},
    };
    cr_assert_eq(p->sandbox.exec.allow_paths.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct policy_path *a = allow_path(p, want[i][0]);
        cr_assert_not_null(a, "%s is not an exec allow path", want[i][0]);
        cr_assert_str_eq(a->path, want[i][1]);
        cr_assert_eq(a->origin, POLICY_ORIGIN_PRESET);
    }
    cr_assert_str_eq(policy_origin_name(POLICY_ORIGIN_PRESET), "preset");
    /* never write: the grants that carry write are exactly the documented defaults */
    cr_assert_eq(p->sandbox.fs.read_write.n, 2);
    for (size_t i = 0; i < p->sandbox.fs.read_write.n; i++)
        cr_assert_not(path_within(p->sandbox.fs.read_write.v[i].path, "/home/tester"));
    /* denylist mode is kept: the preset adds paths, not an allowlist of names */
    cr_assert_eq(p->sandbox.exec.allow_names.n, 1);
    cr_assert_str_eq(p->sandbox.exec.allow_names.v[0], "*");
    policy_free(p);
}

Test(presets, merge_with_exec_allow_without_duplicates)
{
    struct policy *p = load(P("\"sandbox\": {\"presets\": [\"home-toolchains\"], "
                              "\"exec\": {\"allow\": [\"git\", \"~/.pyenv\", \"/opt/tool\"]}}"));
    cr_assert_not_null(p, "%s", all_errors());
    size_t pyenv = 0;
    for (size_t i = 0; i < p->sandbox.exec.allow_paths.n; i++)
        if (strcmp(p->sandbox.exec.allow_paths.v[i].path, "/home/tester/.pyenv") == 0)
            pyenv++;
    cr_assert_eq(pyenv, 1);
    cr_assert_eq(allow_path(p, "~/.pyenv")->origin, POLICY_ORIGIN_POLICY);
    cr_assert_not_null(allow_path(p, "/opt/tool"));
    cr_assert_eq(allow_path(p, "~/.nvm")->origin, POLICY_ORIGIN_PRESET);
    policy_free(p);
}

Test(presets, absent_or_empty_adds_nothing)
{
    struct policy *p = load(P("\"sandbox\": {\"presets\": []}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.presets.n, 0);
    cr_assert_eq(p->sandbox.exec.allow_paths.n, 0);
    policy_free(p);
    p = load(P("\"sandbox\": {}"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.exec.allow_paths.n, 0);
    policy_free(p);
}

Test(presets, unknown_name_names_the_known_ones)
{
    expect_error(P("\"sandbox\": {\"presets\": [\"home-toolchain\"]}"), "sandbox.presets[0]",
                 "unknown preset \"home-toolchain\"; the known presets are \"home-toolchains\"");
    expect_error(P("\"sandbox\": {\"presets\": [\"home-toolchains\", \"HOME-TOOLCHAINS\"]}"),
                 "sandbox.presets[1]", "unknown preset");
}

Test(presets, listed_twice)
{
    expect_error(P("\"sandbox\": {\"presets\": [\"home-toolchains\", \"home-toolchains\"]}"),
                 "sandbox.presets[1]", "listed twice");
}

Test(presets, hostile_input)
{
    expect_error(P("\"sandbox\": {\"presets\": \"home-toolchains\"}"), "sandbox.presets",
                 "expected an array");
    expect_error(P("\"sandbox\": {\"presets\": [1]}"), "sandbox.presets[0]", "");
    expect_error(P("\"sandbox\": {\"presets\": [null]}"), "sandbox.presets[0]", "");
    expect_error(P("\"sandbox\": {\"presets\": [\"\"]}"), "sandbox.presets[0]", "");
    cr_assert_null(load(P("\"sandbox\": {\"presets\": [\"home-toolchains\\u0000x\"]}")));
    expect_error(P("\"sandbox\": {\"presets\": [\"home-\\ntoolchains\"]}"), "sandbox.presets[0]",
                 "");
    expect_error(P("\"sandbox\": {\"presets\": [[\"home-toolchains\"]]}"), "sandbox.presets[0]",
                 "");
    expect_error(P("\"sandbox\": {\"presets\": {\"home-toolchains\": true}}"), "sandbox.presets",
                 "expected an array");
    /* a long unknown name is quoted shortened, not copied whole into the message */
    char doc[6000];
    char name[4100];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(doc, sizeof doc, P("\"sandbox\": {\"presets\": [\"%s\"]}"), name);
    struct policy *p = load(doc);
    cr_assert_null(p);
    for (size_t i = 0; i < d.count; i++)
        cr_assert_lt(strlen(d.e[i].msg), 1024);
    /* an array past POLICY_MAX_ITEMS is refused before any entry is read */
    size_t cap = 20 * (POLICY_MAX_ITEMS + 2) + 200, o = 0;
    char *big = malloc(cap);
    cr_assert_not_null(big);
    o += (size_t)snprintf(big + o, cap - o,
                          "{\"cordon_policy\": 1, \"agent\": \"a\", "
                          "\"sandbox\": {\"presets\": [");
    for (int i = 0; i < POLICY_MAX_ITEMS + 1; i++)
        o += (size_t)snprintf(big + o, cap - o, "%s\"home-toolchains\"", i ? "," : "");
    snprintf(big + o, cap - o, "]}}");
    p = load(big);
    cr_assert_null(p);
    free(big);
}

Test(presets, covering_names_the_preset_directory)
{
    const char *dir = NULL;
    const struct policy_preset *pr =
        policy_preset_covering("/home/tester", "/home/tester/.pyenv/shims/python3", &dir);
    cr_assert_not_null(pr);
    cr_assert_str_eq(pr->name, "home-toolchains");
    cr_assert_str_eq(dir, "~/.pyenv");
    cr_assert_not_null(policy_preset_covering("/home/tester/", "/home/tester/.local/bin/x", NULL));
    cr_assert_null(policy_preset_covering("/home/tester", "/home/tester/.pyenvx/python3", NULL));
    cr_assert_null(policy_preset_covering("/home/tester", "/home/tester/bin/python3", NULL));
    cr_assert_null(policy_preset_covering("/home/tester", "/usr/bin/python3", NULL));
    cr_assert_null(policy_preset_covering(NULL, "/home/tester/.pyenv/x", NULL));
    cr_assert_null(policy_preset_covering("relative", "/home/tester/.pyenv/x", NULL));
    char names[64];
    policy_preset_names(names, sizeof names);
    cr_assert_str_eq(names, "\"home-toolchains\"");
    policy_preset_names(names, 4); /* too small: stays a terminated string */
    cr_assert_lt(strlen(names), 4);
}
